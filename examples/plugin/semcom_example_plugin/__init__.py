"""An example semcom-sim plugin: a scheme and a channel from outside the simulator's repository.

* ``j2k-ldpc`` (:class:`~semcom_example_plugin.j2k_ldpc.J2kLdpc`): JPEG 2000 through the
  simulator's 5G NR LDPC + Gray QAM link at a chosen MCS, a separate source/channel-coding
  baseline beside ``bpg-ldpc``.
* ``rician-block`` (:class:`~semcom_example_plugin.rician.RicianBlockChannel`): Rician block
  fading with a K factor, E|h|² = 1.

Both are registered by the entry points of ``pyproject.toml``; they import only from the
``simulator`` package top.
"""
