package odooapp

// ViewTermsFR exposes the French view terms to the tests of package odooapp_test.
func ViewTermsFR() map[string]string { return frTerms }
