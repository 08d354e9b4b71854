"""The dossier as documents: intakeverslag, voortgangsrapportage, no-go rapport and re-integratieoverzicht."""
