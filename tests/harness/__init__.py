"""Test support for forumdb: tools, a real kube-apiserver, a moto server, the operator runner.

The pytest fixtures that use it live in tests/conftest.py; `forumdb_emulator` is the moto
extension (global tables, AWS Backup jobs, fault injection).
"""
