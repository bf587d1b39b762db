"""The conversation, platform-neutral: flows, states, validators, normalisers and every sentence."""
