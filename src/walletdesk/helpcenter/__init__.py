"""The help center: bilingual articles, Chinese-aware search, public pages and deflection."""
