"""or_magic.testing"""
