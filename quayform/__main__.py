"""Allow `python -m quayform`."""

from quayform.cli import main

if __name__ == "__main__":
    main()
