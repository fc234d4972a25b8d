"""Interoperability cross-checks: PMT weights against safetensors, a PyTorch twin and onnxruntime."""
