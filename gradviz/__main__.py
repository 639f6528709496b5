"""``python -m gradviz``: the same command line as ``gradviz``."""

from gradviz.cli import main

if __name__ == "__main__":
    main()
