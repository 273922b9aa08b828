"""The long-running drift-correction service (`reconciler run`): scheduler, metrics, health, notifications."""
