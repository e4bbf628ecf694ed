"""or_magic.magics"""
