"""or_magic.media"""
