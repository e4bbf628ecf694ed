"""or_magic.safety"""
