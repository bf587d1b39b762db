"""Operations: /metrics, the check, queues and purge commands, the 退会 data-lifecycle pieces."""
