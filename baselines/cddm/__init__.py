"""CDDM baseline (ref. [5]: Wu et al., "CDDM: Channel Denoising Diffusion Models for Wireless
Semantic Communications", IEEE TWC 2024, arXiv:2309.08895).

``model``: the noise schedule, the ε-predicting U-Net and the channel-matched sampler;
``training``: the two training phases (``semcom-train cddm`` / ``cddm-finetune``);
``scheme``: the ``cddm`` scheme for sweeps.  See ``docs/cddm.md``.
"""
