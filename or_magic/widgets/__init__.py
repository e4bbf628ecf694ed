"""or_magic.widgets"""
