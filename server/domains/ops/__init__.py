"""Operations: liveness, readiness, metrics and request logging."""
