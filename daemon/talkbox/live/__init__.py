"""The Gemini side: the Live link, resumption handles and local tools."""
