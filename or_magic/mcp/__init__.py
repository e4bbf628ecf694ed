"""or_magic.mcp"""
