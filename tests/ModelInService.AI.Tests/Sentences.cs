namespace ModelInService.AI.Tests;

/// <summary>The 200 test sentences, written for these tests: short, long, punctuation, non-ASCII, and over the 256-token limit.</summary>
internal static class Sentences
{
    public static readonly string[] Short =
    [
        "Hello world.", "Good morning!", "Thanks.", "Is it raining?", "Stop.", "I agree", "Coffee, please.", "Well done",
        "Not today.", "See you soon.", "Why?", "It works.", "The cat sleeps.", "Dogs bark loudly.", "Run faster!",
        "Call me later.", "Open the door.", "Time flies.", "Keep calm.", "Read the manual.", "", "a", "OK", "42",
        "Yes or no?", "Pay the invoice.", "Ship it.", "Bread is warm.", "Birds sing.", "Lights off.",
    ];

    public static readonly string[] Plain =
    [
        "The quarterly report shows revenue growing by eight percent while costs stayed flat.",
        "Our team deployed the new search service to production on Tuesday afternoon.",
        "A heavy storm closed the mountain pass for most of the weekend.",
        "She planted tomatoes, basil and peppers along the south wall of the garden.",
        "The museum's new wing displays sculptures from the early bronze age.",
        "He forgot his umbrella at the station and walked home in the rain.",
        "The database migration failed because the disk ran out of space.",
        "Children learn languages faster when they hear them spoken at home.",
        "The orchestra rehearsed the symphony twice before the opening night.",
        "Fresh snow covered the village and the roads were quiet until noon.",
        "The bank raised interest rates to slow down inflation.",
        "Our cat refuses to eat anything except salmon on Fridays.",
        "The train to the airport leaves every fifteen minutes from platform four.",
        "Researchers measured the temperature of the lake every hour for a year.",
        "The new phone has a larger battery and a brighter screen.",
        "Farmers expect a good harvest after the long and warm summer.",
        "The library will be closed for renovation until the end of March.",
        "Please restart the server after installing the security update.",
        "The goalkeeper saved a penalty in the final minute of the match.",
        "Volunteers cleaned the beach and collected three hundred kilograms of plastic.",
        "The recipe calls for two eggs, a cup of flour and a pinch of salt.",
        "A small startup built a drone that delivers medicine to remote villages.",
        "The judge postponed the hearing because a witness was ill.",
        "Astronomers discovered a planet orbiting a nearby red dwarf star.",
        "The hotel offers free breakfast and a shuttle to the beach.",
        "Traffic on the bridge was slow because of road works.",
        "The teacher asked the students to write an essay about their summer.",
        "Engineers replaced the old pipes under the main street last month.",
        "The company's support team answers emails within one business day.",
        "My grandmother kept every letter she received during the war.",
        "The price of coffee beans rose sharply after the drought.",
        "He practises the piano for an hour every evening after dinner.",
        "The city council approved a new bicycle lane along the river.",
        "A fire alarm interrupted the meeting and everyone left the building.",
        "The hikers reached the summit just before the clouds rolled in.",
        "Machine learning models need clean data to make good predictions.",
        "The bakery on the corner sells the best croissants in town.",
        "Our flight was delayed by three hours because of fog.",
        "The software update fixes a bug that drained the battery overnight.",
        "The river flooded the fields after a week of heavy rain.",
    ];

    public static readonly string[] Punctuation =
    [
        "Wait... what?! Are you serious???", "Price: $19.99 (excl. VAT) -- limited offer!", "e-mail: support@example.com; phone: +1-555-0100.",
        "\"Quoted,\" she said, 'and nested (parentheses [brackets] {braces})'.", "C# vs. C++ vs. F#: which one?", "100% sure... 50/50 chance; 3:2 odds.",
        "Hyphen-ated, under_scored, dot.separated, slash/separated.", "#hashtag @mention &amp; <tag> ~tilde^caret", "Line one.\nLine two.\tTabbed.",
        "   leading and trailing spaces   ", "!!!", "...", "?!?!", "(a)(b)(c)", "1.2.3.4", "x=y+z*2-1/3", "key: value, key2: value2",
        "It's John's book, isn't it?", "Don't, won't, can't, shouldn't.", "Version 2.0.1-beta+build.7 released!",
    ];

    public static readonly string[] NonAscii =
    [
        "Café au lait, crème brûlée et pâtisserie.", "Ich möchte ein Stück Käse, bitte.", "El niño comió piña en la mañana.",
        "Søren bought smørrebrød in København.", "naïve résumé façade coöperate", "Zürich, München and Köln are German-speaking cities.",
        "Ångström and Øresund are Scandinavian words.", "São Paulo é a maior cidade do Brasil.", "Łódź and Kraków are in Poland.",
        "Crème fraîche goes well with smoked salmon.", "The señor ordered jalapeños.", "Déjà vu: the café served the same entrée.",
        "Ça va? Très bien, merci.", "Gödel, Escher, Bach is a famous book.", "Über alles: die Straße ist groß.",
        "Héllo wörld with àccents éverywhere.", "Pokémon fans gathered in the arena.", "The fiancée wore a beautiful gown.",
        "Björk and Sigur Rós are from Iceland.", "Antonín Dvořák composed the New World Symphony.",
    ];

    /// <summary>Paragraphs repeated past the 256-token limit.</summary>
    public static string[] OverLimit()
    {
        var result = new string[10];
        for (var i = 0; i < result.Length; i++)
        {
            var parts = new List<string>();
            for (var j = 0; j < 12; j++)
            {
                parts.Add(Plain[(i * 7 + j * 3) % Plain.Length]);
            }

            result[i] = string.Join(" ", parts);
        }

        return result;
    }

    /// <summary>Long (but under the limit) texts: three to six plain sentences.</summary>
    public static string[] Long()
    {
        var result = new string[40];
        for (var i = 0; i < result.Length; i++)
        {
            var parts = new List<string>();
            for (var j = 0; j < 3 + (i % 4); j++)
            {
                parts.Add(Plain[(i * 5 + j * 11) % Plain.Length]);
            }

            result[i] = string.Join(" ", parts);
        }

        return result;
    }

    /// <summary>Short texts made by cutting plain sentences at varied points (so the token counts cover 3..30).</summary>
    public static string[] Cut()
    {
        var result = new string[40];
        for (var i = 0; i < result.Length; i++)
        {
            var words = Plain[i % Plain.Length].Split(' ');
            result[i] = string.Join(" ", words, 0, Math.Max(1, (i * 3 % words.Length) + 1));
        }

        return result;
    }

    public static string[] All()
    {
        var all = new List<string>();
        all.AddRange(Short);
        all.AddRange(Plain);
        all.AddRange(Punctuation);
        all.AddRange(NonAscii);
        all.AddRange(Long());
        all.AddRange(Cut());
        all.AddRange(OverLimit());
        return [.. all];
    }
}
