"""The method's stages as plain functions of (connection, client, config, category).

Assets stay thin: they open connections, call a stage and report what it returned.
"""
