"""Test support: small real stores with images, a real Voilà server and Debian chromium."""

from .browser import browser_page, chromium, free_port, kernels_of, voila_server
from .stores import image_subjects, make_image_store

__all__ = ["browser_page", "chromium", "kernels_of", "free_port", "voila_server", "image_subjects", "make_image_store"]
