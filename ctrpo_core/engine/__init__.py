"""The one on-policy trust-region engine every algorithm runs on."""
