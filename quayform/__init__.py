"""quayform: a declarative plan/apply reconciler for container stacks on Docker."""

__version__ = "0.1.0"
