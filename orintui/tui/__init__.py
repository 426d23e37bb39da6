"""The Textual app. Reads LiveState; never parses backend output, never reads sysfs."""
