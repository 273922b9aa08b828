"""Stage 5: render plans and apply results as text, JSON or Markdown. Pure."""
