package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// The tenant's data is a billing app's: customers and their invoices. Its
// text mixes words, which repeat as real prose does, with random tokens
// (references, order codes, SKUs, e-mail local parts, post codes), which
// do not compress; generator.stats says how many of the text's bytes are
// which.

// Data shape, fixed so that one seed always makes the same rows.
const (
	vocabularySize       = 4000 // distinct words of the memos and notes
	zipfS                = 1.1  // the words' Zipf exponent: a few are very common
	invoicesPerCustomer  = 20   // on average
	invoicesPerBatch     = 5000 // rows written in one transaction (or COPY)
	customersPerBatch    = invoicesPerBatch / invoicesPerCustomer
	orderCodeProbability = 0.3 // a memo names an order code
)

// customer is one row of the customers table.
type customer struct {
	id        int64
	name      string
	email     string
	company   string
	address   string
	country   string
	createdAt time.Time
	notes     string
}

// invoice is one row of the invoices table.
type invoice struct {
	id         int64
	customerID int64
	number     string
	issuedAt   time.Time
	dueAt      time.Time
	status     string
	currency   string
	totalCents int64
	reference  string
	lines      string // JSON: an array of line items
	memo       string
}

// batch is the rows one transaction writes: new customers first, then
// invoices of any customer made so far.
type batch struct {
	customers []customer
	invoices  []invoice
}

// dataStats counts what the generator made.
type dataStats struct {
	customers, invoices int64
	// textBytes are the bytes of every text value (JSON included);
	// randomBytes those of them drawn at random, character by character.
	textBytes, randomBytes int64
}

// randomShare is the fraction of text bytes drawn at random.
func (s dataStats) randomShare() float64 {
	if s.textBytes == 0 {
		return 0
	}
	return float64(s.randomBytes) / float64(s.textBytes)
}

// generator makes batches of rows, the same ones for the same seed.
type generator struct {
	rng    *rand.Rand
	zipf   *rand.Zipf
	vocab  []string
	stats  dataStats
	epoch  time.Time
	domain []string
}

// Word lists that real billing data repeats.
var (
	commonWords = strings.Fields(`the a of and to in for on with by is was per as
		invoice payment order delivery service monthly annual subscription plan license support
		consulting hours project review maintenance hosting storage transfer renewal discount
		credit refund balance due overdue reminder thanks please contact account customer
		shipping handling tax vat net total quote contract agreement period upgrade downgrade
		seats users usage overage fee late early paid received pending approved rejected`)
	firstNames = strings.Fields(`Anna Ben Carla David Emma Felix Grace Hugo Ines Jonas Karin Leo Maria Nils Olga
		Paul Quinn Rosa Sven Tara Ugo Vera Walter Xenia Yusuf Zoe Alice Bruno Chloe Dmitri Elena
		Farid Greta Hannah Ivan Julia Kenji Lena Marco Nora Oscar Petra Rafael Sofia Tomas`)
	lastNames = strings.Fields(`Smith Müller Rossi Garcia Dubois Novak Kowalski Jensen Silva Tanaka Kim Nguyen
		Schmidt Bianchi Martin Horvat Nielsen Costa Sato Park Tran Fischer Romano Lopez Bernard
		Dvorak Wojcik Hansen Pereira Suzuki Lee Pham Weber Ricci Fernandez Petit Svoboda`)
	streets    = strings.Fields(`Main Station Market Church Park Mill River Bridge Garden King Queen High Oak Elm Lake Hill`)
	streetKind = strings.Fields(`Street Road Avenue Lane Way Square`)
	cities     = strings.Fields(`Berlin Paris Madrid Rome Lisbon Vienna Prague Warsaw Oslo Dublin Amsterdam Brussels Zurich Milan Lyon Hamburg Munich Porto Seville Krakow`)
	countries  = strings.Fields(`DE FR ES IT PT AT CZ PL NO IE NL BE CH GB US CA SE DK FI`)
	companyEnd = strings.Fields(`Ltd GmbH Inc SAS BV AB Oy SRL`)
	currencies = strings.Fields(`EUR EUR EUR USD USD GBP CHF SEK`)
)

// newGenerator returns the generator of seed.
func newGenerator(seed uint64) *generator {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed0fba11))
	g := &generator{rng: rng, epoch: time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)}
	g.vocab = append(g.vocab, commonWords...)
	syllables := strings.Fields(`ka ri to mu sa le no vi da pe lo ra mi tu be sho gra fen dor lin mar tel qua ves zon bri`)
	for len(g.vocab) < vocabularySize {
		n := 2 + rng.IntN(3)
		var w strings.Builder
		for range n {
			w.WriteString(syllables[rng.IntN(len(syllables))])
		}
		g.vocab = append(g.vocab, w.String())
	}
	g.zipf = rand.NewZipf(rng, zipfS, 2, uint64(len(g.vocab)-1))
	for range 300 {
		g.domain = append(g.domain, g.vocab[len(commonWords)+rng.IntN(500)]+pick(rng, []string{".com", ".de", ".fr", ".io", ".net", ".eu"}))
	}
	return g
}

// pick returns a random element of list.
func pick(rng *rand.Rand, list []string) string { return list[rng.IntN(len(list))] }

// next returns the next batch of rows.
func (g *generator) next() batch {
	var b batch
	for range customersPerBatch {
		b.customers = append(b.customers, g.customer())
	}
	for range invoicesPerBatch {
		b.invoices = append(b.invoices, g.invoice())
	}
	return b
}

// words returns n words drawn from the vocabulary.
func (g *generator) words(n int) string {
	var s strings.Builder
	for i := range n {
		if i > 0 {
			s.WriteByte(' ')
		}
		s.WriteString(g.vocab[g.zipf.Uint64()])
	}
	return s.String()
}

// token returns n characters drawn at random from alphabet.
func (g *generator) token(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	g.stats.randomBytes += int64(n)
	return string(b)
}

const (
	upperAlnum = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	digits     = "0123456789"
)

// text counts the bytes of text values and returns s.
func (g *generator) text(s string) string {
	g.stats.textBytes += int64(len(s))
	return s
}

// at returns a time within the data's four years.
func (g *generator) at() time.Time {
	return g.epoch.Add(time.Duration(g.rng.Int64N(int64(4 * 365 * 24 * time.Hour)))).Truncate(time.Second)
}

// customer returns the next customer.
func (g *generator) customer() customer {
	g.stats.customers++
	first, last := pick(g.rng, firstNames), pick(g.rng, lastNames)
	notes := ""
	if g.rng.IntN(3) == 0 {
		notes = g.words(5 + g.rng.IntN(30))
	}
	return customer{
		id:        g.stats.customers,
		name:      g.text(first + " " + last),
		email:     g.text(strings.ToLower(first) + "." + g.token(6, lowerAlnum) + "@" + pick(g.rng, g.domain)),
		company:   g.text(g.vocab[g.zipf.Uint64()] + " " + pick(g.rng, commonWords[9:]) + " " + pick(g.rng, companyEnd)),
		address:   g.text(strconv.Itoa(1+g.rng.IntN(200)) + " " + pick(g.rng, streets) + " " + pick(g.rng, streetKind) + ", " + g.token(5, digits) + " " + pick(g.rng, cities)),
		country:   g.text(pick(g.rng, countries)),
		createdAt: g.at(),
		notes:     g.text(notes),
	}
}

// lineItem is one line of an invoice.
type lineItem struct {
	SKU         string `json:"sku"`
	Description string `json:"description"`
	Quantity    int    `json:"qty"`
	UnitCents   int64  `json:"unit_cents"`
}

// invoice returns the next invoice, of any customer made so far.
func (g *generator) invoice() invoice {
	g.stats.invoices++
	n := g.stats.invoices
	lines := make([]lineItem, 1+g.rng.IntN(6))
	var total int64
	for i := range lines {
		lines[i] = lineItem{SKU: "SKU-" + g.token(6, upperAlnum), Description: g.words(3 + g.rng.IntN(6)), Quantity: 1 + g.rng.IntN(20), UnitCents: 100 + g.rng.Int64N(50000)}
		total += int64(lines[i].Quantity) * lines[i].UnitCents
	}
	js, _ := json.Marshal(lines) // plain structs: never fails
	memo := g.words(8 + g.rng.IntN(50))
	if g.rng.Float64() < orderCodeProbability {
		memo += " order " + g.token(10, upperAlnum)
	}
	issued := g.at()
	status := "paid"
	switch r := g.rng.IntN(100); {
	case r < 20:
		status = "open"
	case r < 27:
		status = "overdue"
	case r < 30:
		status = "void"
	}
	return invoice{
		id:         n,
		customerID: 1 + g.rng.Int64N(g.stats.customers),
		number:     g.text(fmt.Sprintf("INV-%08d", n)),
		issuedAt:   issued,
		dueAt:      issued.Add(30 * 24 * time.Hour),
		status:     g.text(status),
		currency:   g.text(pick(g.rng, currencies)),
		totalCents: total,
		reference:  g.text(g.token(20, upperAlnum)),
		lines:      g.text(string(js)),
		memo:       g.text(memo),
	}
}
