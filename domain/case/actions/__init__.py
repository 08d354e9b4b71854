"""The case's action kinds by topic, each declared once (`DECLARED`: model, roles, check, effect, the step it completes
or requires, whether it is activity); `domain.case.engine` puts them in one ledger."""
