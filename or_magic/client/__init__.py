"""or_magic.client"""
