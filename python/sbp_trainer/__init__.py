"""sbp's PyTorch trainer: runs one training job written by sbp (docs/trainers.md) with transformers models,
on CPU or GPUs, one process or many (torchrun: DDP, or FSDP)."""
