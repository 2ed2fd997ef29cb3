mod manifest_errors;
