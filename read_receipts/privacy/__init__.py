"""What the service keeps from whom, and who asked not to be tracked."""
