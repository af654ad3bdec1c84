Console.WriteLine("kiln");
