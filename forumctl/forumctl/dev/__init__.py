"""The whole forumdb stack on one machine, for developers and first-time users
(`forumctl dev up|down|status`): etcd + kube-apiserver, the moto server with the forumdb
extension (from the checkout's tests/ folder, run as a process, never imported), the operator
and the three services; or, in JSON mode, only the services on local files.

Also the process and kube-apiserver launchers that the test harness re-uses (procs, pki,
apiserver): one copy of that code.
"""
