# Equal to package.json's version: scripts/build-wheel.mjs refuses to build otherwise.
__version__ = "0.1.0"
