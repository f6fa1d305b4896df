"""Start the web app (same as `qa serve`)."""

from qa.config import Settings
from qa.web.server import serve

if __name__ == "__main__":
    serve(Settings.from_env())
