"""``support-agent eval``: measure the agent with a real chat model on support scenarios.

``scenario`` is the versioned file format, ``customer`` the simulated or scripted customer,
``faults`` the optional dependency failures, ``runner`` plays the trials through the real
graph, ``scoring`` turns trials into pass^k and the other numbers, ``report`` prints and
saves them, ``tau2`` converts tau2-bench retail tasks, and ``command`` is the CLI.
"""
