"""Labels from hidden tests, for benchmarks only.

``code`` (HumanEval+ / MBPP+ labels, with evalplus' comparison rules in ``evalplus``) and
``bigcodebench`` (BigCodeBench's unittest suites) run a benchmark's hidden tests
(evalplus' plus-inputs, BigCodeBench's test classes) to say which candidates are correct.
Judges never import them: the verifiers see only public items, and labels reach a judge
only through a resource that grants them.
"""
