"""or_magic.tools"""
