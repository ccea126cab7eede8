"""Static files storage: WhiteNoise's compressed, hashed files once collected, plain names until then."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """After ``collectstatic`` URLs name the hashed files; before it (no manifest yet) they name the plain ones.

    A fresh clone and the test suite run without ``collectstatic``: WhiteNoise then serves the apps' own
    files (WHITENOISE_USE_FINDERS), and a page must not fail for want of a manifest entry.
    """

    def stored_name(self, name: str) -> str:
        if not self.hashed_files:
            return name
        return super().stored_name(name)
