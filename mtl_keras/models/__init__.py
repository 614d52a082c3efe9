"""Models: a registered trunk shared by one Dense head per task."""
