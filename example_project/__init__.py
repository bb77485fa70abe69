"""A runnable host project for the demo and the test suite."""
