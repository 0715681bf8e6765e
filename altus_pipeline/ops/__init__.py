"""Operations tables: the dead-letter queue and the run audit."""
