"""Training and distillation entry points (base model, vocoder, text-audio model, CM/CTM students)."""
