//! Integration tests: the real supervisor binary on real programs.
