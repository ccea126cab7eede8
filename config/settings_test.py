"""Settings for the test suite: the project's own, with a fast password hasher.

Django's default hasher costs about half a second per password on purpose; tests create
hundreds of users, and nothing in them depends on the hasher's strength.
"""

from .settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Requests of the test client are not a site to protect; tests of the throttle switch it on.
DATAPIPELINE_SITE_LATENCY = False

# A second site app whose dataset proves the engine takes any app's data (tests/testapp). Exports in
# the other tests write the wiki's five files only; tests of the tracker enable its dataset.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]  # noqa: F405
DATAPIPELINE_DATASETS = ["users", "spaces", "pages", "comments", "analytics"]
