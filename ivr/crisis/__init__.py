"""The crisis path: calm words, every free crisis-trained agent at once, then the crisis line."""
