"""quayform stand-in for the ``bitbucket`` package (py-bitbucket).

Quay imports ``bitbucket.BitBucket`` when it loads its build-trigger code, which happens at
start-up of the web process; the client is only used by Bitbucket build triggers. The real
package is a git requirement that cannot be fetched where quayform's test image is built, so
this module satisfies the import, and any use of the client fails with a clear error.
"""

__all__ = ["BitBucket", "StandInError"]


class StandInError(RuntimeError):
    """Raised on any use of the stand-in Bitbucket client."""


class BitBucket:
    """Accepts the constructor arguments of the real client and refuses everything else."""

    def __init__(self, *args, **kwargs):
        self._arguments = (args, kwargs)

    def __getattr__(self, attribute):
        raise StandInError(
            "Bitbucket build triggers are not available in quayform-test/quay:src "
            "(py-bitbucket is replaced by a stand-in); tried to use BitBucket.%s" % attribute
        )
