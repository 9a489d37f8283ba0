"""Files Huibao makes: the round workbook, the DHIS2 export, charts, QR codes, roster files."""
