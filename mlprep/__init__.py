"""mlprep: build the ML Interview Prep site, EPUB, PDF cheat sheets and Anki deck from content/."""
__version__ = "0.1.0"
