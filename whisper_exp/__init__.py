"""whisper_exp: Hydra-configured, Lightning-driven fine-tuning of Whisper and CTC speech models."""

from whisper_exp.config.resolvers import register_resolvers

register_resolvers()

__version__ = "0.1.0"
