package odooapp

// ViewTermsFR exposes the French view terms to the tests of package odooapp_test.
func ViewTermsFR() map[string]string { return frTerms }

// WrittenTermsFR exposes the translations written by hand, without the built-in
// texts that stay as they are.
func WrittenTermsFR() map[string]string { return viewTermsFR }

const ConversationThreadCSS = conversationThreadCSS
