"""fhir_server package."""
